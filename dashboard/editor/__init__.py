"""The workflow editor: the definition (trigger, schedule, steps) as forms built from the action
schemas, read back from the posted fields into the same JSON the API takes."""
