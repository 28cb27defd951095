import { registry } from "@web/core/registry";
import { ReferenceField, referenceField } from "@web/views/fields/reference/reference_field";

/**
 * The Odoo record a mapped code stands for. The kind of record is fixed by the mapping
 * (a work center, a product...), so no model selector: the model comes from the line's
 * `target_model` (a char), which planners can read without access to ir.model.
 */
export class MappingTargetField extends ReferenceField {
    get hideModelSelector() {
        return true;
    }

    getModelName() {
        return this.props.record.data.target_model || undefined;
    }
}

export const mappingTargetField = {
    ...referenceField,
    component: MappingTargetField,
    fieldDependencies: [{ name: "target_model", type: "char" }],
};

registry.category("fields").add("mfg_mapping_target", mappingTargetField);
