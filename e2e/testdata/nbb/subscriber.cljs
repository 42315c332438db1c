;; nbb client A: subscribes to a channel, says [:ready {:uid ...}], then reads
;; channel messages (single events or batches [[:sente-lite/channel-msg ...] ...])
;; until one whose data is {:final true}, and prints what it got.
;; Args: ws-url channel
(ns subscriber
  (:require [hub-client :as hc]
            [promesa.core :as p]))

(defn main []
  (let [[url channel] *command-line-args*]
    (p/let [c (hc/connect url)
            {:keys [uid]} (hc/handshake! c)
            _ (hc/send! c [:sente-lite/subscribe {:channel-id channel}])
            [id ack] (hc/recv-event! c)
            _ (when-not (and (= id :sente-lite/subscribed) (= ack {:channel-id channel :success true}))
                (hc/fail! (str "subscribe answered " (pr-str [id ack]))))
            _ (hc/out! :ready {:uid uid})
            msgs (p/loop [acc []]
                   (p/let [[id m :as ev] (hc/recv-event! c)]
                     (cond
                       (not= id :sente-lite/channel-msg) (hc/fail! (str "want a channel message, got " (pr-str ev)))
                       (= {:final true} (:data m)) (conj acc m)
                       :else (p/recur (conj acc m)))))]
      (hc/out! :received {:ns (mapv (comp :n :data) (butlast msgs))
                          :froms (set (map :from msgs))
                          :channel-ids (set (map :channel-id msgs))
                          :keys (set (mapcat keys msgs))
                          :frames @(:frames c)
                          :batch-frames @(:batches c)})
      (hc/close! c))))

(hc/run main)
