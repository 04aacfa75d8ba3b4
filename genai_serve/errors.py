"""The one error type a client can cause. Handlers turn it into a 4xx for that request only."""


class InputError(ValueError):
    """Bad client input: `field` names what was wrong, `status` is the HTTP code (400 unless said)."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status

    def to_body(self) -> dict:
        return {"error": self.message, "field": self.field}
