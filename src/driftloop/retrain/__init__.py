"""Closing the loop: retraining policies, the retrain job, paired validation of a challenger, promotion."""
