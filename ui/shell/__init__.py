"""The window as a whole: the application (start, style, language, voice), the main window that places the
lanes and the top bar, the people screens wired into it, the kiosk guard, the systemd watchdog, and the
screenshot tool that drives a real window."""
