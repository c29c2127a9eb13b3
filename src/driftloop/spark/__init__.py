"""The Spark engine (optional extra ``driftloop[spark]``): the monitor's windows and statistics computed by Apache
Spark over a Parquet dataset from mergeable per-partition summaries, with the numpy engine's numbers.

- :mod:`driftloop.spark.session`: the SparkSession (a clear error without Java or PySpark);
- :mod:`driftloop.spark.ecdf`: KS, Wasserstein-1 and the binned counts of numeric columns, exact, from one global
  sort with per-partition running counts;
- :mod:`driftloop.spark.monitor`: windows cut in Spark, drift, data quality, coverage and regression performance
  per window, as :class:`~driftloop.monitor.results.WindowResult` for the monitor's MLflow logging.
"""
