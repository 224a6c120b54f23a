"""Landdesk door side: wire format, vendor formats, relays, reference controller.

Never imports ``booking``; the booking service imports ``devices.messages``
(and may import ``devices.vendors``).
"""
