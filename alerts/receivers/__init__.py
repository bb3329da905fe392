"""Receivers: their specs parsed from the config (``specs``), the masking of phone numbers and
URLs in every text (``redact``), and the GSM-7 SMS text (``sms_text``).

Pure; imports only ``alerts.model`` and ``alerts.errors`` (and phonenumbers). Docstring only:
import the modules themselves.
"""
