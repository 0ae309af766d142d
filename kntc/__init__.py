"""KNTC: the national database of citizen complaints and denunciations."""
