"""SAP S/4HANA OData V2 client in plain Python (no Odoo imports): see client.ODataClient."""
