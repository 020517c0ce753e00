"""Health: liveness, readiness of the dependencies, startup checks, the synthetic probe."""
