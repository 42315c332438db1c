;; nbb connects to the hub, reads the handshake with clojure.edn, checks the
;; echo's :conn-id is its uid, publishes once to "hs-check" (a Go subscriber
;; checks :from), then stays connected until stdin closes.
;; Args: ws-url
(ns handshake
  (:require [hub-client :as hc]
            [promesa.core :as p]))

(defn main []
  (p/let [c (hc/connect (first *command-line-args*))
          {:keys [uid csrf data first?]} (hc/handshake! c)
          _ (hc/out! :handshake {:uid uid :csrf csrf :first? first?
                                 :uid-string? (string? uid)
                                 :sente-lite-version (:sente-lite-version data)
                                 :server (:server data)})
          _ (hc/send! c [:nbb-hub/hello {:from :nbb}])
          [id echo] (hc/recv-event! c)
          _ (hc/out! :echo {:event-id id
                            :conn-id-is-uid (= uid (:conn-id echo))
                            :original-data-ok (= {:from :nbb} (:original-data echo))
                            ;; the probe arrived before the echo on the same socket
                            :nrepl-probes-ignored (count @(:ignored c))})
          _ (hc/send! c [:sente-lite/publish {:channel-id "hs-check" :data {:uid uid}}])
          _ (hc/out! :published true)
          ;; Stay connected while the Go side looks at /stats; stdin's end says go.
          _ (p/create (fn [resolve _]
                        (.on js/process.stdin "end" resolve)
                        (.resume js/process.stdin)))]
    (hc/close! c)))

(hc/run main)
