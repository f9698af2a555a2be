"""The operator's view, as plumbing: lag status rules (Burrow's), the history store that one
sampler writes, and the sampler itself. The API and the CLI read what these write."""
