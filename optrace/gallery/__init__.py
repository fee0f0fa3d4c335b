"""The gallery: every optimizer on every function, each cell an exact race, in parallel
on this machine or on a Dask cluster, gathered into one page."""
