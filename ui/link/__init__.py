"""The window's doors to the engine's threads: the bridge (engine events as queued Qt signals, commands run
on the engine thread with their outcome in words) and the office runner (PIN checks, shifts and people on
the engine's office thread, answered as queued signals). Nothing in the window waits on an engine thread."""
