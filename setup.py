"""Build step for the optional C kernel ``subriemann._kernels``; metadata is in pyproject.toml.

The kernel writes the outer-product blocks of ``NetworkMap``'s Jacobian (see
``subriemann/_kernels.c``).  It is ``optional``: without a working C compiler
the install still succeeds and ``subriemann.maps.network`` uses its numpy fallback.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# gcc/clang front ends (also MinGW and Cygwin gcc)
_GCC_LIKE = {"unix", "mingw32", "cygwin"}


class BuildExt(build_ext):
    """build_ext adding the flags the kernel's bitwise equality with numpy needs."""

    def build_extensions(self):
        if self.compiler.compiler_type in _GCC_LIKE:
            for ext in self.extensions:
                # -ffp-contract=off: no FMA fusion of B1*a1 + B2*a2, so results are bitwise
                # numpy's separate multiply and add; -O3 (Python's usual level) for the
                # vectorised inner loop. No -march=native: wheels run on other machines.
                ext.extra_compile_args = [*ext.extra_compile_args, "-O3", "-ffp-contract=off"]
        # MSVC's default /fp:precise does not contract a*b + c*d into an FMA.
        super().build_extensions()


setup(
    ext_modules=[
        Extension("subriemann._kernels", ["subriemann/_kernels.c"], optional=True),
    ],
    cmdclass={"build_ext": BuildExt},
)
