import { registry } from "@web/core/registry";

// A planner fixes a missing mapping from the exception queue in three clicks:
// "Create Mapping" on the row, the Odoo record in the dropdown, "Save".
registry.category("web_tour.tours").add("mfg_integration_missing_mapping", {
    steps: () => [
        {
            content: "Click 1: Create Mapping on the exception's row",
            trigger: '.o_data_row:contains("ACME-7") button[name="action_create_mapping"]',
            run: "click",
        },
        {
            content: "The code is prefilled; type the start of the partner's name",
            trigger: '.modal .o_field_widget[name="external_code"] input:value("ACME-7")',
        },
        {
            trigger: '.modal .o_field_widget[name="target_ref"] input',
            run: "edit Acme Gears",
        },
        {
            content: "Click 2: the Odoo record the code stands for",
            trigger: '.o-autocomplete--dropdown-item a:contains("Acme Gears Ltd")',
            run: "click",
        },
        {
            content: "Click 3: Save (retries every exception waiting on ACME-7)",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The exceptions waiting on ACME-7 left the queue; BOLT-1 is still there",
            trigger: '.o_list_view:not(:has(.o_data_row:contains("ACME-7"))) .o_data_row:contains("BOLT-1")',
        },
    ],
});
