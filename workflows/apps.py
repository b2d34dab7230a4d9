from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        from integrations.hooks import CONNECTION_CHANGED, hooks
        from workflows import composition, events
        from workflows.services.audit import connection_audit

        hooks.subscribe(CONNECTION_CHANGED, connection_audit)
        events.subscribe(
            events.EXECUTION_FINISHED,
            composition.on_execution_finished,
            listening=composition.hears_execution_finished,
        )
