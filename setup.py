"""minifcn: Fully Convolutional Networks (FCN-32s/16s/8s) from scratch in NumPy.

The same code runs on a GPU with CuPy.
"""
import os
import re

from setuptools import find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "minifcn", "__init__.py"), encoding="utf-8") as f:
    version = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)
with open(os.path.join(here, "README.md"), encoding="utf-8") as f:
    long_description = f.read()

setup(
    name="minifcn",
    version=version,
    description=(
        "Fully Convolutional Networks for semantic segmentation, hand-written in NumPy/CuPy"
    ),
    long_description=long_description,
    long_description_content_type="text/markdown",
    packages=find_packages(include=["minifcn", "minifcn.*"]),
    python_requires=">=3.9",
    install_requires=["numpy>=1.22", "pillow>=9", "matplotlib>=3.5", "tqdm>=4.60"],
    extras_require={
        "cuda12": ["cupy-cuda12x>=12"],
        "cuda13": ["cupy-cuda13x>=13"],
        "sbd": ["scipy>=1.7"],
        "test": ["pytest>=7", "ruff>=0.4", "jupytext>=1.14"],
    },
    entry_points={"console_scripts": ["minifcn=minifcn.cli:main"]},
)
