;; nbb client B: subscribes to the channel too, publishes n messages {:n i}
;; with :exclude-sender? true, checks it got none of them back (its next event
;; is the pong to a ping sent after them), then publishes {:final true}
;; without exclusion, which it must receive itself.
;; Args: ws-url channel n
(ns publisher
  (:require [hub-client :as hc]
            [promesa.core :as p]))

(defn main []
  (let [[url channel n] *command-line-args*
        n (js/parseInt n 10)]
    (p/let [c (hc/connect url)
            {:keys [uid]} (hc/handshake! c)
            _ (hc/send! c [:sente-lite/subscribe {:channel-id channel}])
            [id ack] (hc/recv-event! c)
            _ (when-not (and (= id :sente-lite/subscribed) (:success ack))
                (hc/fail! (str "subscribe answered " (pr-str [id ack]))))
            _ (hc/out! :ready {:uid uid})
            _ (dotimes [i n]
                (hc/send! c [:sente-lite/publish {:channel-id channel :data {:n i} :exclude-sender? true}]))
            _ (hc/send! c [:chsk/ws-ping])
            [after-id] (hc/recv-event! c)
            _ (hc/send! c [:sente-lite/publish {:channel-id channel :data {:final true}}])
            [own-id own] (hc/recv-event! c)]
      (hc/out! :published {:n n
                           :after-excluded after-id
                           :own-final-id own-id
                           :own-final-data (:data own)
                           :own-final-from-self (= uid (:from own))})
      (hc/close! c))))

(hc/run main)
