{
    "name": "Manufacturing Integration: MES and Machines",
    "summary": "Contracts for MES work orders, production, scrap and downtime, and machine "
    "status and counters from OPC-UA / MQTT, linked to manufacturing orders",
    "version": "18.0.1.0.0",
    "category": "Manufacturing/Integration",
    "author": "Manufacturing Integration Team",
    "website": "https://github.com/mfg-integration/odoo-mfg-integration",
    "license": "LGPL-3",
    "depends": ["mfg_integration_base", "mrp", "maintenance"],
    "data": [
        "data/mfg_integration_contract_data.xml",
        "views/mrp_production_views.xml",
        "security/ir.model.access.csv",
        "data/mrp_workcenter_productivity_loss_data.xml",
        "views/mfg_workcenter_oee_views.xml",
        "views/mrp_workcenter_views.xml",
        "views/maintenance_equipment_views.xml",
        "data/mfg_workcenter_oee_cron.xml",
    ],
    "demo": [
        "demo/mfg_integration_mes_demo.xml",
        "demo/mfg_integration_mes_mapping_demo.xml",
        "demo/mfg_integration_mes_downtime_demo.xml",
        "demo/mfg_integration_mes_orders_demo.xml",
        "demo/mfg_integration_mes_plant_demo.xml",
    ],
    "installable": True,
}
