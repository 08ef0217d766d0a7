"""Datasets: where files come from (sources), fetching (fetch), and one module per dataset."""
