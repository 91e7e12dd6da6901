"""The core of the DSR system: no broker imports live here."""
