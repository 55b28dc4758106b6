"""What a study hands to the job of every scenario (`options:` in a scenario file).

Kept apart from the scenario-file schema so that jobs can read their settings without
importing the study machinery (`scenarios` imports `jobs`, never the reverse).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StrictModel(BaseModel):
    """A frozen model that refuses unknown keys and non-finite numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class JobOptions(StrictModel):
    """Settings handed to the job of every scenario (units: GWh/yr, days, seconds)."""

    capacity_gwh: float | None = None  # good GWh/yr; default: the route's plant.default_capacity
    # economics convention (lines/economics.yaml), or its volume-scaled form (`ssbfab.scaled`)
    costing: Literal["batpac5", "annuity", "batpac5-scaled", "annuity-scaled"] = "batpac5"
    dew_point_class: str | None = None  # force a dry-room class (default: the job chooses)
    replications: int | None = Field(None, ge=1)  # simulation replications (default: the simulator's)
    days: float | None = Field(None, gt=0)  # simulated days per replication
    warmup_days: float | None = Field(None, ge=0)
    time_limit: float | None = Field(None, gt=0)  # optimiser time limit per solve, s
    mip_gap: float | None = Field(None, ge=0)
    max_iterations: int | None = Field(None, ge=1)  # closed loop
    tol: float | None = Field(None, ge=0, lt=1)  # closed loop: the certified lower bound must reach (1 - tol) x target
    params: dict[str, Any] = Field(default_factory=dict)  # free settings for a registered job

    @field_validator("capacity_gwh", mode="before")
    @classmethod
    def _capacity(cls, v):
        if isinstance(v, str):
            from ..data import units

            return units.parse_quantity(v, "energy_per_year")
        return v

    @field_validator("capacity_gwh")
    @classmethod
    def _positive(cls, v):
        if v is not None and not v > 0:
            raise ValueError(f"must be positive, found {v:g}")
        return v
