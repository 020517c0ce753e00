"""What a retried dead-letter task's work carries (decision 0091), apart from the task models so the entry points
read it without loading them: its consumer resolves the task on success and records a further failure on the work's
first message."""

TASK_ID_ATTRIBUTE = "firstmile-task-id"
"""The message attribute (or invocation field) naming the task."""

ORIGIN_MESSAGE_ATTRIBUTE = "firstmile-message-id"
"""The first message id of the task's work: its failure record's key."""
