;; nbb sends frames the hub must refuse, each followed by a valid event: the
;; refusal is [:sente-lite/error {:error :unreadable-frame :reason "..."}] and
;; the connection stays usable. Then bad frames up to the hub's limit
;; (--max-bad-frames, args: ws-url max-bad-frames): the last one closes the
;; connection, and the close code and reason are printed.
;; Args: ws-url max-bad-frames
(ns malformed
  (:require [hub-client :as hc]
            [promesa.core :as p]))

(def bad-frames
  [["v1-map" (pr-str {:v1 "map"})]
   ["v1-map-typed" (pr-str {:type :subscribe :channel-id "x"})]
   ["unnamespaced-event" (pr-str [:hello "no namespace"])]
   ["unbalanced" "[:nbb-hub/x {:a 1"]])

(defn main []
  (p/let [c (hc/connect (first *command-line-args*))
          {:keys [uid]} (hc/handshake! c)]
    (p/loop [[[n text] & more] bad-frames, i 0]
      (when n
        (hc/send-raw! c text)
        (p/let [[id err :as ev] (hc/recv-event! c)
                _ (hc/send! c [:nbb-hub/after {:i i :ok true}])
                [id2 echo] (hc/recv-event! c)]
          (hc/out! :refused {:name n :sent text :answer id :data err
                             :next-answer id2
                             :next-ok (= {:i i :ok true} (:original-data echo))
                             :conn-id-ok (= uid (:conn-id echo))})
          (p/recur more (inc i)))))
    ;; Strike out: each bad frame is answered until the last, which closes.
    (let [limit (js/parseInt (second *command-line-args*) 10)]
      (p/loop [i (count bad-frames), answers []]
        (if (< i limit)
          (do (hc/send-raw! c (pr-str {:strike i}))
              (if (< (inc i) limit)
                (p/let [[id] (hc/recv-event! c)] (p/recur (inc i) (conj answers id)))
                (p/recur (inc i) answers)))
          ;; After the last strike: maybe its error event, then the close.
          (p/let [items (p/loop [items []]
                          (p/let [[kind :as item] (hc/recv! c)]
                            (if (= kind :closed) (conj items item) (p/recur (conj items item)))))]
            (hc/out! :struck-out {:answers answers
                                  :before-close (mapv (fn [[kind x]] (if (= kind :event) (first x) kind)) (butlast items))
                                  :close-code (second (last items))
                                  :close-reason (nth (last items) 2)})))))))

(hc/run main)
