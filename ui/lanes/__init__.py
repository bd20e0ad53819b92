"""The lanes' screens: a lane's panel (the car, the amount, the QR for the driver, the attendant's actions and
their panels), the spoken prompts, and the background sync to the clouds (its top-bar indicator and panel)."""
