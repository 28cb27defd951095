"""The demo partner systems (mfg-edge partners): supplier portal, CMMS, WMS and CRM."""
