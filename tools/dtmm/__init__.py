"""DTMM: deploy filterlet-pruned TinyML models on Cortex-M microcontrollers."""

__version__ = "0.1.0"
