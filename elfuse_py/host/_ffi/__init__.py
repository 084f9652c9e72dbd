"""Precompiled cffi declarations, generated from elfuse_py/cdefs.py; do not edit."""
