"""Built-in datasets: embedded ``samples``, synthetic ``shapes`` and any ``folder`` of images."""
