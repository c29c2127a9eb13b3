"""The Spark engine (optional extra ``driftloop[spark]``): the monitor's windows and statistics computed by Apache
Spark over a Parquet dataset from mergeable per-partition summaries, with the numpy engine's numbers.

- :mod:`driftloop.spark.session`: the SparkSession (a clear error without Java or PySpark);
- :mod:`driftloop.spark.ecdf`: KS, Wasserstein-1 and the binned counts of numeric columns per window, exact: one
  hash shuffle by (window, column), each group summarised in one task by the numpy engine's functions;
- :mod:`driftloop.spark.ranges`: the profile's global sort (range partitioning, per-partition offsets);
- :mod:`driftloop.spark.profile`: the reference profile fitted in Spark;
- :mod:`driftloop.spark.monitor`: windows cut in Spark, drift, data quality, coverage and regression performance
  per window, as :class:`~driftloop.monitor.results.WindowResult` for the monitor's MLflow logging.
"""
