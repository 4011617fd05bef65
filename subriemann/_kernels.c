/*
 * subriemann._kernels: block writers for the network Jacobian D[θ] (1.17).
 *
 * The W_ℓ-block of D (and of d/dt D[θ+tv]) is, for every output row r = j*Q + q,
 * the outer product B_ℓ[r, o] a_{ℓ-1}[j, i] laid out contiguously in (o, i).
 * numpy can only write it with ufunc inner loops n_in = M_{ℓ-1} long, one per
 * (r, o) or per chunk, and that per-loop overhead, not memory traffic, is what
 * costs: at (M, width, Q, N, L) = (4, 64, 3, 32, 2) the 64x64 W_2 block alone
 * takes ~2.3x the time of filling all of D (np.empty + fill), this loop ~0.9x
 * (0.05 ms against 0.055 ms).  network.py (_assemble, _write_outer) keeps the
 * numpy reference, the fallback when this module is not built.  Bias and zero
 * blocks are plain strided copies that numpy does as fast as a C loop
 * (measured), so they are not here.
 *
 * Only the Python C-API and the buffer protocol are used (no numpy headers), so
 * building needs a C compiler and setuptools, nothing else.  Every argument is
 * validated (float64 format, 2-D, C-contiguous, matching sizes, column range,
 * no overlap between the output and the inputs) before the GIL is released.
 *
 * Bitwise reproducibility: each entry is B*a, or (B1*a1) + (B2*a2), each
 * product rounded separately, which is what numpy's separate multiply and add
 * compute; setup.py compiles this file with -ffp-contract=off so the compiler
 * does not fuse the two-term sum into an FMA (that would change the last bit,
 * e.g. on aarch64 where FMA contraction is the default).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

/* Release every buffer in views[0..n) whose obj is set. */
static void
release_all(Py_buffer *views, int n)
{
    for (int k = 0; k < n; ++k) {
        if (views[k].obj != NULL) {
            PyBuffer_Release(&views[k]);
        }
    }
}

/* True when fmt is a native float64 struct format: "d", "@d", "=d" or the
 * byte-order character of this machine followed by "d". */
static int
is_float64_format(const char *fmt)
{
    if (fmt == NULL) {
        return 0; /* NULL means unsigned bytes ("B") */
    }
#if PY_BIG_ENDIAN
    const char native = '>';
#else
    const char native = '<';
#endif
    if (fmt[0] == '@' || fmt[0] == '=' || fmt[0] == native) {
        ++fmt;
    }
    return fmt[0] == 'd' && fmt[1] == '\0';
}

/* Export obj as a C-contiguous 2-D float64 buffer into *view, or set an
 * exception (TypeError for a wrong kind of object or dtype, ValueError for a
 * wrong layout) and return -1 with view->obj left NULL. */
static int
get_matrix(PyObject *obj, const char *name, int writable, Py_buffer *view)
{
    view->obj = NULL;
    if (PyObject_GetBuffer(obj, view, PyBUF_RECORDS_RO) < 0) {
        view->obj = NULL;
        if (PyErr_ExceptionMatches(PyExc_TypeError) ||
            PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "%s must be a 2-D float64 array (an object with the buffer "
                         "protocol), got %.200s",
                         name, Py_TYPE(obj)->tp_name);
        }
        return -1;
    }
    if (!is_float64_format(view->format) || view->itemsize != (Py_ssize_t)sizeof(double)) {
        PyErr_Format(PyExc_TypeError, "%s must hold float64 values (format 'd'), got format '%s'",
                     name, view->format == NULL ? "B" : view->format);
        goto fail;
    }
    if (view->ndim != 2) {
        PyErr_Format(PyExc_ValueError, "%s must be 2-D, got %d dimension(s)", name, view->ndim);
        goto fail;
    }
    if (!PyBuffer_IsContiguous(view, 'C')) {
        PyErr_Format(PyExc_ValueError,
                     "%s must be C-contiguous (row-major, no strides or broadcasting); "
                     "pass numpy.ascontiguousarray(%s)",
                     name, name);
        goto fail;
    }
    if (writable && view->readonly) {
        PyErr_Format(PyExc_ValueError, "%s is read-only; expected a writable array", name);
        goto fail;
    }
    return 0;
fail:
    PyBuffer_Release(view);
    view->obj = NULL;
    return -1;
}

/* -1 with ValueError when the byte ranges of out and view overlap. */
static int
check_no_overlap(const Py_buffer *out, const Py_buffer *view, const char *name)
{
    const char *o0 = (const char *)out->buf, *o1 = o0 + out->len;
    const char *v0 = (const char *)view->buf, *v1 = v0 + view->len;
    if (out->len > 0 && view->len > 0 && o0 < v1 && v0 < o1) {
        PyErr_Format(PyExc_ValueError, "out and %s share memory; pass a copy of %s", name, name);
        return -1;
    }
    return 0;
}

/* Column argument: a Python int in [0, ld - width]. */
static int
get_col(PyObject *obj, Py_ssize_t ld, Py_ssize_t width, Py_ssize_t *col)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "col must be an int, got %.200s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    *col = PyLong_AsSsize_t(obj);
    if (*col == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (*col < 0 || width > ld || *col > ld - width) {
        PyErr_Format(PyExc_ValueError,
                     "block columns [col, col + %zd) = [%zd, %zd) do not fit in out's %zd columns",
                     width, *col, *col + width, ld);
        return -1;
    }
    return 0;
}

/* The loops.  `out` points at column col of row 0; row r of the block is
 * out + r*ld.  restrict is valid: overlaps are rejected above. */
static void
outer1(double *restrict out, Py_ssize_t ld, Py_ssize_t R, Py_ssize_t Q,
       const double *restrict B, Py_ssize_t n_out, const double *restrict a, Py_ssize_t n_in)
{
    for (Py_ssize_t r = 0; r < R; ++r) {
        double *restrict row = out + r * ld;
        const double *restrict b = B + r * n_out;
        const double *restrict x = a + (r / Q) * n_in;
        for (Py_ssize_t o = 0; o < n_out; ++o) {
            const double s = b[o];
            double *restrict dst = row + o * n_in;
            for (Py_ssize_t i = 0; i < n_in; ++i) {
                dst[i] = s * x[i];
            }
        }
    }
}

static void
outer2(double *restrict out, Py_ssize_t ld, Py_ssize_t R, Py_ssize_t Q,
       const double *restrict B1, const double *restrict B2, Py_ssize_t n_out,
       const double *restrict a1, const double *restrict a2, Py_ssize_t n_in)
{
    for (Py_ssize_t r = 0; r < R; ++r) {
        double *restrict row = out + r * ld;
        const double *restrict b1 = B1 + r * n_out;
        const double *restrict b2 = B2 + r * n_out;
        const double *restrict x1 = a1 + (r / Q) * n_in;
        const double *restrict x2 = a2 + (r / Q) * n_in;
        for (Py_ssize_t o = 0; o < n_out; ++o) {
            const double s1 = b1[o], s2 = b2[o];
            double *restrict dst = row + o * n_in;
            for (Py_ssize_t i = 0; i < n_in; ++i) {
                /* two rounded products, one rounded sum: needs -ffp-contract=off */
                dst[i] = s1 * x1[i] + s2 * x2[i];
            }
        }
    }
}

PyDoc_STRVAR(outer_doc,
"outer(out, col, B1, a1, B2=None, a2=None, /)\n"
"--\n"
"\n"
"Write an outer-product block of the Jacobian in place.\n"
"\n"
"For every row r of ``out`` (R, ld) and o < n_out, i < n_in::\n"
"\n"
"    out[r, col + o*n_in + i] = B1[r, o]*a1[r // Q, i] (+ B2[r, o]*a2[r // Q, i])\n"
"\n"
"with B1, B2 of shape (R, n_out), a1, a2 of shape (N, n_in) and Q = R // N\n"
"(rows are sample-major: row r belongs to sample r // Q).  All arrays are\n"
"C-contiguous float64; ``out`` is writable and shares no memory with the\n"
"others.  Bitwise equal to numpy's B1*a1 (+ B2*a2).  One term without B2, a2\n"
"(or with both None), two with both.");

static PyObject *
kernels_outer(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 && nargs != 6) {
        PyErr_Format(PyExc_TypeError,
                     "outer() takes 4 arguments (out, col, B1, a1) or 6 (out, col, B1, a1, B2, "
                     "a2), got %zd",
                     nargs);
        return NULL;
    }
    if (nargs == 6 && (args[4] == Py_None || args[5] == Py_None)) {
        if (args[4] != args[5]) {
            PyErr_SetString(PyExc_TypeError, "outer(): give both B2 and a2, or neither");
            return NULL;
        }
        nargs = 4; /* B2 = a2 = None: one term */
    }
    static const char *const names[] = {"out", NULL, "B1", "a1", "B2", "a2"};
    Py_buffer views[6];
    memset(views, 0, sizeof(views));
    for (int k = 0; k < (int)nargs; ++k) {
        if (k == 1) {
            continue;
        }
        if (get_matrix(args[k], names[k], k == 0, &views[k]) < 0) {
            release_all(views, 6);
            return NULL;
        }
    }
    const Py_ssize_t R = views[0].shape[0], ld = views[0].shape[1];
    const Py_ssize_t n_out = views[2].shape[1], N = views[3].shape[0], n_in = views[3].shape[1];
    Py_ssize_t Q = 0, col = 0;
    if (views[2].shape[0] != R) {
        PyErr_Format(PyExc_ValueError, "B1 has %zd rows but out has %zd; expected (R, n_out)",
                     views[2].shape[0], R);
        goto fail;
    }
    if (N < 1 || R % N != 0) {
        PyErr_Format(PyExc_ValueError,
                     "a1 has %zd rows (samples N) but out has %zd rows; expected R = Q*N with "
                     "N >= 1",
                     N, R);
        goto fail;
    }
    Q = R / N;
    if (nargs == 6) {
        if (views[4].shape[0] != R || views[4].shape[1] != n_out) {
            PyErr_Format(PyExc_ValueError, "B2 has shape (%zd, %zd), expected (%zd, %zd) like B1",
                         views[4].shape[0], views[4].shape[1], R, n_out);
            goto fail;
        }
        if (views[5].shape[0] != N || views[5].shape[1] != n_in) {
            PyErr_Format(PyExc_ValueError, "a2 has shape (%zd, %zd), expected (%zd, %zd) like a1",
                         views[5].shape[0], views[5].shape[1], N, n_in);
            goto fail;
        }
    }
    if (n_in != 0 && n_out > PY_SSIZE_T_MAX / n_in) {
        PyErr_SetString(PyExc_ValueError, "block width n_out*n_in overflows");
        goto fail;
    }
    if (get_col(args[1], ld, n_out * n_in, &col) < 0) {
        goto fail;
    }
    for (int k = 2; k < (int)nargs; ++k) {
        if (check_no_overlap(&views[0], &views[k], names[k]) < 0) {
            goto fail;
        }
    }
    double *dst = (double *)views[0].buf + col;
    Py_BEGIN_ALLOW_THREADS
    if (nargs == 4) {
        outer1(dst, ld, R, Q, views[2].buf, n_out, views[3].buf, n_in);
    }
    else {
        outer2(dst, ld, R, Q, views[2].buf, views[4].buf, n_out, views[3].buf, views[5].buf,
               n_in);
    }
    Py_END_ALLOW_THREADS
    release_all(views, 6);
    Py_RETURN_NONE;
fail:
    release_all(views, 6);
    return NULL;
}

static PyMethodDef kernels_methods[] = {
    {"outer", (PyCFunction)(void (*)(void))kernels_outer, METH_FASTCALL, outer_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot kernels_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

PyDoc_STRVAR(module_doc,
"Compiled block writers for NetworkMap's Jacobian assembly (optional; numpy fallback).\n"
"\n"
"Built by setup.py when a C compiler is available; subriemann.maps.network uses it\n"
"unless SUBRIEMANN_PURE_NUMPY=1 (see subriemann.maps.network.ASSEMBLY).");

static struct PyModuleDef kernels_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "subriemann._kernels",
    .m_doc = module_doc,
    .m_size = 0,
    .m_methods = kernels_methods,
    .m_slots = kernels_slots,
};

PyMODINIT_FUNC
PyInit__kernels(void)
{
    return PyModuleDef_Init(&kernels_module);
}
