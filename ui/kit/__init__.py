"""The window's toolkit, shared by every screen: the style and physical sizes, the languages (i18n), the words
for lane values, phrases and refusals (wording, refusals), the keypads and the PIN pad, the covering overlay
and the side sheet, and the window's input filter. Nothing here knows a screen; every screen may use it."""
