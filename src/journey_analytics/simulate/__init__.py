"""Synthetic landing-folder generator with planted defects, pain points and ground truth."""

from .generator import SimulationResult, simulate

__all__ = ["SimulationResult", "simulate"]
