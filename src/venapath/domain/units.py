"""Laboratory quantities with explicit units, and their conversion to the unit rules use.

A rule compares platelets in 10^9/L, haemoglobin in g/dL, creatinine in µmol/L. A case may
state any unit listed here; conversion happens once, when facts are derived. D-dimer is the
exception: FEU and DDU results are not interconvertible with confidence, so the case keeps
the reporting basis and the laboratory's own positive/negative call.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat


class PlateletUnit(StrEnum):
    PER_NANOLITRE = "10^9/L"
    THOUSAND_PER_MICROLITRE = "10^3/uL"
    PER_MICROLITRE = "/uL"


class HaemoglobinUnit(StrEnum):
    G_PER_DL = "g/dL"
    G_PER_L = "g/L"
    MMOL_PER_L = "mmol/L"


class CreatinineUnit(StrEnum):
    UMOL_PER_L = "umol/L"
    MG_PER_DL = "mg/dL"


class DDimerUnit(StrEnum):
    NG_PER_ML = "ng/mL"
    UG_PER_ML = "ug/mL"
    MG_PER_L = "mg/L"


class DDimerBasis(StrEnum):
    """Fibrinogen-equivalent units or D-dimer units; the two differ by roughly twofold."""

    FEU = "FEU"
    DDU = "DDU"


_STRICT = ConfigDict(extra="forbid", frozen=True)

# Haemoglobin molar mass basis used by laboratories: 1 g/dL = 0.6206 mmol/L (monomer).
_HB_MMOL_PER_G_DL = 0.6206
# Creatinine: 1 mg/dL = 88.42 µmol/L.
_CREATININE_UMOL_PER_MG_DL = 88.42


class Platelets(BaseModel):
    model_config = _STRICT
    value: StrictFloat = Field(ge=0, description="Platelet count (must be >= 0).")
    unit: PlateletUnit = PlateletUnit.PER_NANOLITRE

    def per_nanolitre(self) -> float:
        """The count in 10^9/L (numerically equal to 10^3/µL)."""
        if self.unit is PlateletUnit.PER_MICROLITRE:
            return self.value / 1000.0
        return self.value


class Haemoglobin(BaseModel):
    model_config = _STRICT
    value: StrictFloat = Field(ge=0, le=300)
    unit: HaemoglobinUnit = HaemoglobinUnit.G_PER_DL

    def g_per_dl(self) -> float:
        if self.unit is HaemoglobinUnit.G_PER_L:
            return self.value / 10.0
        if self.unit is HaemoglobinUnit.MMOL_PER_L:
            return self.value / _HB_MMOL_PER_G_DL
        return self.value


class Creatinine(BaseModel):
    model_config = _STRICT
    value: StrictFloat = Field(ge=0)
    unit: CreatinineUnit = CreatinineUnit.UMOL_PER_L

    def umol_per_l(self) -> float:
        if self.unit is CreatinineUnit.MG_PER_DL:
            return self.value * _CREATININE_UMOL_PER_MG_DL
        return self.value


class DDimer(BaseModel):
    """A D-dimer result; `positive` is the laboratory's call against its own validated cut-off."""

    model_config = _STRICT
    value: StrictFloat | None = Field(default=None, ge=0)
    unit: DDimerUnit | None = None
    basis: DDimerBasis | None = None
    positive: StrictBool | None = Field(
        default=None,
        description="Above the assay's validated cut-off. Rules read this, never a fixed number, "
        "because cut-offs depend on assay, unit and basis.",
    )

    def ug_per_ml(self) -> float | None:
        if self.value is None or self.unit is None:
            return None
        if self.unit is DDimerUnit.NG_PER_ML:
            return self.value / 1000.0
        return self.value  # µg/mL and mg/L are numerically equal
