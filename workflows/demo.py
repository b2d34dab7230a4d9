"""Demo data for a first run: example workflows built only from the installed action types."""

from typing import Any

DEMO_WORKFLOWS: list[dict[str, Any]] = [
    {
        "name": "Summarise an article payload",
        "description": 'Run it with a payload like {"title": "Hello", "words": 420}.',
        "workflow_type": "content_publishing",
        "trigger": {"type": "manual"},
        "actions": [
            {
                "id": "summary",
                "type": "transform",
                "params": {
                    "values": {
                        "title": "{{ trigger.title | default('Untitled') }}",
                        "minutes": "{{ ((trigger.words | default(0)) / 200) | round(1) }}",
                    }
                },
            },
            {
                "id": "headline",
                "type": "transform",
                "condition": "steps.summary.minutes > 1",
                "params": {"values": {"text": "{{ steps.summary.title }}: a long read"}},
            },
        ],
    },
    {
        "name": "Notify an HTTP endpoint",
        "description": "Posts the payload to example.com; point the URL at your own endpoint.",
        "workflow_type": "integration",
        "trigger": {"type": "manual"},
        "actions": [
            {
                "id": "post",
                "type": "api_call",
                "params": {
                    "method": "POST",
                    "url": "https://example.com/hooks/demo",
                    "body": {"execution": "{{ execution.id }}", "payload": "{{ trigger }}"},
                },
                "retry": {"max_attempts": 3, "backoff": "exponential", "delay_s": 2},
                "timeout_s": 10,
            }
        ],
    },
    {
        "name": "Check a status page",
        "description": "Every 15 minutes, fetches a status page and extracts its indicator with "
        "JMESPath. Point the URL at a page your server can reach.",
        "workflow_type": "monitoring",
        "trigger": {"type": "schedule", "timezone": "UTC"},
        "schedule": "*/15 * * * *",
        "actions": [
            {
                "id": "status",
                "type": "api_call",
                "params": {
                    "url": "https://www.githubstatus.com/api/v2/status.json",
                    "extract": {"indicator": "status.indicator"},
                },
                "timeout_s": 10,
            },
            {
                "id": "verdict",
                "type": "transform",
                "params": {
                    "values": {"healthy": "{{ steps.status.extracted.indicator == 'none' }}"}
                },
            },
        ],
    },
]
