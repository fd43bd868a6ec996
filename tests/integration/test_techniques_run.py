"""The campaign techniques in a whole (tiny) run: damaged land yields less, by the registry's loss."""

from __future__ import annotations

import hightide.api


def test_land_the_campaign_reached_yields_less_by_the_loss(tmp_path, tiny_path, tiny_results, tiny_scale, params):
    """A campaign meant to reach all land from January 1952 (all of it where the leadership is at
    least averagely radical, 1 + radicalism of it elsewhere) cuts the June harvest, the first after
    it, by at most ``campaign_technique_yield_loss``; nothing before the harvest differs."""
    path = tmp_path / "tech.toml"
    path.write_text(tiny_path.read_text(encoding="utf-8").replace('name = "tiny"', 'name = "tiny_tech"') + (
        '\n[[timeline]]\ndate = "1952-01"\nnote = "test"\nsource = "test"\ncampaign_technique_share = 1.0\n'),
        encoding="utf-8")
    tech = hightide.api.run(path, scale=tiny_scale, seed=0, check=True)  # tiny_results' seed
    base_m = tiny_results.national_monthly.set_index(["year", "month"])
    tech_m = tech.national_monthly.set_index(["year", "month"])
    before = [(1952, m) for m in range(1, 6)]
    assert tech_m.loc[before, "population_m"].tolist() == base_m.loc[before, "population_m"].tolist()
    ratio = tech_m.loc[(1952, 6), "grain_output_mt"] / base_m.loc[(1952, 6), "grain_output_mt"]
    assert 1.0 - params.campaign_technique_yield_loss - 1e-9 <= ratio < 1.0
    assert tech.national_annual["grain_output_mt"].sum() < tiny_results.national_annual["grain_output_mt"].sum()
