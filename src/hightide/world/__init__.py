"""The world's state: provinces, townships and villages, households and organisations."""
