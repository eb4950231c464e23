"""A tool deployed while the mesh runs: registered by editing the registry, used by the next run."""

from __future__ import annotations

from fastapi import FastAPI, Query

app = FastAPI(title="weather", version="1.0.0")


@app.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/forecast", operation_id="getForecast", summary="Tomorrow's weather forecast for a city")
def get_forecast(city: str = Query(min_length=1, max_length=100)) -> dict[str, str]:
    return {"city": city, "forecast": f"sunny in {city}, 21 C"}
