// Package sdk is the Go client of the Almanac feature server: online
// lookups of feature services or feature lists for batches of entities, and
// pushing rows to push sources.
//
// A Client is safe for concurrent use and should be shared: it keeps one
// connection (HTTP/2, multiplexed) to the server.
//
//	c, err := sdk.Dial("127.0.0.1:6566")
//	...
//	res, err := c.GetOnlineFeatures(ctx, sdk.Query{
//		FeatureService: "driver_ranking_v1",
//		Entities:       sdk.Entities{"driver_id": {1001, 1002}},
//	})
//	rate, status, err := res.Float64(0, "conv_rate")
//
// A getter's status says what the lookup found; only Present carries a
// value. Its error says the call itself is wrong: an unknown name, a getter
// of another type than the feature's, or a row out of range.
package sdk
