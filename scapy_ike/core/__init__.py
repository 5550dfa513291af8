"""The sans-IO IKEv1 core: SA state (and, built on it, the exchanges)."""
