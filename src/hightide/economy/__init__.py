"""Production, distribution of the harvest, consumption and demography (MODEL.md §4.3-§4.5)."""
