/* The inner loop of the offline PSK search (crack.py), compiled.
 *
 * For each candidate key: SKEYID = prf(key, Ni_b | Nr_b) and
 * HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
 * (RFC 2409 5, 5.4), prf being the HMAC of the negotiated hash written out
 * (RFC 2104 2: H(K ^ opad | H(K ^ ipad | text)), a key longer than the
 * block hashed first), over OpenSSL's EVP digests, one context reused for
 * every hash.  The interpreter lock is released while it runs.
 *
 *     find(hash, nonces, signed, wanted, candidates) -> index or -1
 *
 * *hash* is an OpenSSL digest name ("md5", "sha1", "sha256", "sha384",
 * "sha512"), *candidates* a sequence of bytes; the index is that of the first
 * candidate whose HASH_R equals *wanted* (CRYPTO_memcmp).  crack.py
 * confirms a match on its plain path, with hmac.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#define MAX_BLOCK 128

typedef struct {
    EVP_MD_CTX *ctx;
    const EVP_MD *md;
    size_t block, size;
} Prf;

static int
digest(Prf *p, const unsigned char *a, size_t na, const unsigned char *b, size_t nb,
       unsigned char *out)
{
    return EVP_DigestInit_ex(p->ctx, p->md, NULL)
        && EVP_DigestUpdate(p->ctx, a, na)
        && (nb == 0 || EVP_DigestUpdate(p->ctx, b, nb))
        && EVP_DigestFinal_ex(p->ctx, out, NULL);
}

/* out = HMAC(key, text), key at most one block long */
static int
hmac(Prf *p, const unsigned char *key, size_t nkey, const unsigned char *text, size_t ntext,
     unsigned char *out)
{
    unsigned char pad[MAX_BLOCK], inner[EVP_MAX_MD_SIZE];
    size_t i;

    for (i = 0; i < nkey; i++)
        pad[i] = key[i] ^ 0x36;
    memset(pad + nkey, 0x36, p->block - nkey);
    if (!digest(p, pad, p->block, text, ntext, inner))
        return 0;
    for (i = 0; i < nkey; i++)
        pad[i] = key[i] ^ 0x5c;
    memset(pad + nkey, 0x5c, p->block - nkey);
    return digest(p, pad, p->block, inner, p->size, out);
}

typedef struct {
    const unsigned char *data;
    size_t size;
} Candidate;

/* the index of the first matching candidate, -1 for none, -2 on an OpenSSL failure */
static Py_ssize_t
search(Prf *p, const unsigned char *nonces, size_t nnonces, const unsigned char *sig,
       size_t nsig, const unsigned char *wanted, const Candidate *c, Py_ssize_t n)
{
    unsigned char hashed[EVP_MAX_MD_SIZE], skeyid[EVP_MAX_MD_SIZE], hash_r[EVP_MAX_MD_SIZE];
    Py_ssize_t i;

    for (i = 0; i < n; i++) {
        const unsigned char *key = c[i].data;
        size_t nkey = c[i].size;

        if (nkey > p->block) {
            if (!digest(p, key, nkey, NULL, 0, hashed))
                return -2;
            key = hashed;
            nkey = p->size;
        }
        if (!hmac(p, key, nkey, nonces, nnonces, skeyid)
            || !hmac(p, skeyid, p->size, sig, nsig, hash_r))
            return -2;
        if (CRYPTO_memcmp(hash_r, wanted, p->size) == 0)
            return i;
    }
    return -1;
}

static PyObject *
find(PyObject *module, PyObject *args)
{
    const char *name;
    Py_buffer nonces, sig, wanted;
    PyObject *candidates, *seq = NULL, *result = NULL;
    Candidate *c = NULL;
    Prf p = {NULL, NULL, 0, 0};
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MD *fetched = NULL;
#endif
    Py_ssize_t n, i, found;

    if (!PyArg_ParseTuple(args, "sy*y*y*O:find", &name, &nonces, &sig, &wanted, &candidates))
        return NULL;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    p.md = fetched = EVP_MD_fetch(NULL, name, NULL);   /* once, not at every init */
#else
    p.md = EVP_get_digestbyname(name);
#endif
    if (p.md == NULL) {
        ERR_clear_error();      /* no failure left queued for the next OpenSSL user */
        PyErr_Format(PyExc_ValueError, "unknown hash %s", name);
        goto done;
    }
    p.block = (size_t)EVP_MD_block_size(p.md);
    p.size = (size_t)EVP_MD_size(p.md);
    if (p.block > MAX_BLOCK) {
        PyErr_Format(PyExc_ValueError, "%s has blocks of %zu bytes, more than %d",
                     name, p.block, MAX_BLOCK);
        goto done;
    }
    if ((size_t)wanted.len != p.size) {
        PyErr_Format(PyExc_ValueError, "a %s HASH_R has %zu bytes", name, p.size);
        goto done;
    }
    seq = PySequence_Tuple(candidates);   /* its own references, kept while unlocked */
    if (seq == NULL)
        goto done;
    n = PyTuple_GET_SIZE(seq);
    c = PyMem_Malloc(sizeof(Candidate) * (size_t)(n ? n : 1));
    if (c == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        char *data;
        Py_ssize_t size;

        if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(seq, i), &data, &size) < 0)
            goto done;
        c[i].data = (const unsigned char *)data;
        c[i].size = (size_t)size;
    }
    p.ctx = EVP_MD_CTX_new();
    if (p.ctx == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    found = search(&p, nonces.buf, (size_t)nonces.len, sig.buf, (size_t)sig.len,
                   wanted.buf, c, n);
    Py_END_ALLOW_THREADS
    if (found == -2) {
        ERR_clear_error();
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL failed to hash");
    } else {
        result = PyLong_FromSsize_t(found);
    }
done:
    EVP_MD_CTX_free(p.ctx);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MD_free(fetched);
#endif
    PyMem_Free(c);
    Py_XDECREF(seq);
    PyBuffer_Release(&nonces);
    PyBuffer_Release(&sig);
    PyBuffer_Release(&wanted);
    return result;
}

static PyMethodDef methods[] = {
    {"find", find, METH_VARARGS,
     "find(hash, nonces, signed, wanted, candidates): the index of the first candidate "
     "whose Aggressive Mode HASH_R is *wanted*, or -1."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_crackloop",
    "The PSK search's inner loop, compiled (see crack.py).", -1, methods
};

PyMODINIT_FUNC
PyInit__crackloop(void)
{
    return PyModule_Create(&module);
}
