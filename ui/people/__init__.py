"""Who is at the booth: signing in (and opening a shift), the lock screen with its idle lock, and the
supervisor's screens (people, shifts, and the way to the reports)."""
