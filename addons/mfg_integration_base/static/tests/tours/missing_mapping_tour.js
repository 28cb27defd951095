import { registry } from "@web/core/registry";

// A planner fixes a missing mapping from the exception queue in three clicks: "Create
// Mapping" on the problem's line (the queue opens grouped by problem, folded), the Odoo
// record in the dropdown, "Save".
registry.category("web_tour.tours").add("mfg_integration_missing_mapping", {
    steps: () => [
        {
            content: "Click 1: Create Mapping on the line of the problem (2 exceptions)",
            trigger: '.o_group_header:contains("ACME-7"):contains("(2)") button[name="action_create_mapping"]',
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
            trigger: '.modal button[name="action_save_and_reload"]',
            run: "click",
        },
        {
            content: "The queue reloads: nothing waits on ACME-7 any more; BOLT-1 still does",
            trigger: '.o_group_header:contains("ACME-7"):contains("(0)") ~ .o_group_header:contains("BOLT-1"):contains("(1)"), .o_group_header:contains("BOLT-1"):contains("(1)") ~ .o_group_header:contains("ACME-7"):contains("(0)")',
        },
    ],
});
