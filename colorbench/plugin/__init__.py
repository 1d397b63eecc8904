"""The plugin API: hook specs, the specs plugins register, typed registries, ``--set`` options
and the manager that loads the ``colorbench`` entry-point group into registries."""
