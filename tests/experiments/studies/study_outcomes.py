"""Synthetic study results: accuracies clearly higher, clearly lower, and tied (three repeats each)."""
HIGH, LOW, TIE = [0.90, 0.91, 0.92], [0.80, 0.81, 0.82], [0.85, 0.85, 0.85]
OUTCOMES = [(HIGH, LOW, "supported"), (LOW, HIGH, "not supported"), (TIE, TIE, "inconclusive")]
