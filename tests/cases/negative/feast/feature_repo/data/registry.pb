
<

__dummy"
__dummy_idJrides
¼ŒÄØÐ¯¨÷¼ŒÄØÐ¯¨÷
:

driver"	driver_idJrides
¼ŒÄØ¸¥®÷¼ŒÄØ¸¥®÷1"$4821e809-0aaf-48d5-b406-4257c229bdf0*¼ŒÄØ¨ÇÜ÷2«
Š
driver_statsridesdriver"
	conv_rate"
acc_rate"	
trips2€Æ
:¢event_timestamp*createdZdata/driver_stats.parquetŠ1feast.infra.offline_stores.file_source.FileSource¢driver_stats_source’¼ŒÄØ°Ž”ð"¼ŒÄØØ÷÷@b
	driver_id’latest
¼ŒÄØÍ³÷¼ŒÄØÍ³÷:ó
Ò
driver_activityrides·
driver_stats
	conv_rate	
trips*created:createdBnevent_timestamp*createdZdata/driver_stats.parquet¢driver_stats_source’¼ŒÄØ°Ž”ð"¼ŒÄØØ÷÷ZfeatureView
¼ŒÄØ¨ôÍ÷¼ŒÄØ¨ôÍ÷Rl
j
,feast.infra.online_stores.sqlite.SqliteTable":
$/tmp/tmpku_eo5hs/file/data/online.dbrides_driver_statsbªevent_timestamp*createdZdata/driver_stats.parquetŠ1feast.infra.offline_stores.file_source.FileSource¢driver_stats_sourceªrides’¼ŒÄØ°Ž”ð"¼ŒÄØØ÷÷Š'

rides
¼ŒÄØ ëØð¼ŒÄØ ëØð’ˆ
…
driver_statsrides"feature_view*«
Š
driver_statsridesdriver"
	conv_rate"
acc_rate"	
trips2€Æ
:¢event_timestamp*createdZdata/driver_stats.parquetŠ1feast.infra.offline_stores.file_source.FileSource¢driver_stats_source’¼ŒÄØ°Ž”ð"¼ŒÄØØ÷÷@b
	driver_id’latest
¼ŒÄØÍ³÷¼ŒÄØÍ³÷2¼ŒÄØè¾Ê÷B$7425d2f9-4ef8-40b9-851b-e35740e767c1