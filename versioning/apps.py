from django.apps import AppConfig


class VersioningConfig(AppConfig):
    name = "versioning"
    verbose_name = "Content versioning"

    def ready(self) -> None:
        from versioning.selectors import article_context_provide
        from workflows.services.executions import context_provider_register

        context_provider_register(article_context_provide)
