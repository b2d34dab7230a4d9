from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from alerts import subscribers
        from integrations.hooks import CONNECTION_FAILED, hooks
        from workflows import events

        events.subscribe(
            events.EXECUTION_FINISHED,
            subscribers.on_execution_finished,
            listening=subscribers.hears_execution_finished,
        )
        events.subscribe(
            events.STEP_FAILED, subscribers.on_step_failed, listening=subscribers.hears_step_failed
        )
        hooks.subscribe(CONNECTION_FAILED, subscribers.on_connection_failed)
