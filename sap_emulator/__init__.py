"""A local SAP S/4HANA OData V2 emulator for tests and the demo (see server.start_emulator)."""
