;; sente.repl: the REPL semantics an nREPL editor expects, installed by the
;; gateway into each Scittle runtime (stock scittle.nrepl.js pages and sente's
;; own page alike) with one eval when the runtime is first used.
;;
;; The gateway sends one (sente.repl/run ...) per top-level form. run evaluates
;; the form in the session's namespace with *1 *2 *3 *e of that session, captures
;; what it prints, and answers with a map the gateway turns into nREPL responses:
;; {:out :value :ns} or {:out :err :ex :root-ex :ns}, or {:no-ns true}.
;; Output printed outside any evaluation (timers, promises, handlers) is pushed
;; through sente-lite.nrepl/push-out! when the page has it (sente's page), else
;; buffered and handed to the next evaluation.
;;
;; Interpreted by SCI: no destructuring, plain functions only.
(ns sente.repl)

(defonce sessions (atom {}))
(defonce idle-out (atom ""))
(def out-limit 65536)
(defonce -ns-out (atom nil))

(defn- clip [s]
  (if (> (count s) out-limit) (subs s (- (count s) out-limit)) s))

(defn- idle-print [s]
  (let [push (try (resolve 'sente-lite.nrepl/push-out!) (catch :default _ nil))]
    (if push
      (@push s)
      (swap! idle-out (fn [b] (clip (str b s "\n")))))))

(defonce console-print-fn
  (let [orig *print-fn*]
    (alter-var-root #'*print-fn* (fn [_] (fn [s] (orig s) (idle-print s))))
    orig))

(defn- kind [e]
  (cond
    (some? (ex-data e)) "cljs.core/ExceptionInfo"
    (instance? js/Error e) (str "js/" (.-name e))
    (string? e) "js/String"
    (number? e) "js/Number"
    :else "js/Object"))

(defn- short-kind [k]
  (let [i (max (.lastIndexOf k "/") (.lastIndexOf k "."))]
    (if (neg? i) k (subs k (inc i)))))

(defn- message [e]
  (or (ex-message e) (when (instance? js/Error e) (.-message e)) (str e)))

(defn- sci-error? [e]
  (let [t (get (ex-data e) :type)]
    (or (= :sci/error t) (= :sci.error/parse t))))

(defn- unwrap
  "SCI wraps what a form throws in an ex-info that carries the position; the
  error the user threw is its cause."
  [e]
  (if (and (sci-error? e) (ex-cause e)) (ex-cause e) e))

(defn- causes [e]
  (take 8 (take-while some? (iterate ex-cause e))))

(defn- location [e file line col]
  (let [d (ex-data e)
        l (get d :line)
        c (get d :column)]
    (str (or file "REPL") ":" (if l (+ line (dec l)) line)
         (when c (str ":" (if (= 1 l) (+ col (dec c)) c))))))

(defn- error-text [e0 ns-name file line col]
  (let [phase (get (ex-data e0) :phase)
        e (unwrap e0)
        chain (causes e)
        head (cond
               (= "parse" phase) (str "Syntax error reading source at (" (location e0 file line col) ").\n")
               (= "analysis" phase) (str "Syntax error compiling at (" (location e0 file line col) ").\n")
               :else (str "Execution error (" (short-kind (kind e)) ") at " ns-name " (" (location e0 file line col) ").\n"))
        body (fn [x]
               (let [d (when-not (sci-error? x) (ex-data x))]
                 (str (message x) "\n" (when (seq d) (str (pr-str d) "\n")))))]
    (apply str head (body e)
           (map (fn [c] (str "Caused by (" (short-kind (kind c)) "): " (body c))) (rest chain)))))

(defn- set-stars! [st]
  (let [v (get st :v)]
    (intern 'clojure.core '*1 (nth v 0 nil))
    (intern 'clojure.core '*2 (nth v 1 nil))
    (intern 'clojure.core '*3 (nth v 2 nil))
    (intern 'clojure.core '*e (get st :e))))

(defn- remember! [sid k f]
  (when (seq sid)
    (swap! sessions update sid (fn [s] (update s k f)))))

(defn- success [sid v]
  (remember! sid :v (fn [old] (vec (take 3 (cons v old)))))
  {:value (pr-str v)})

(defn- settled
  "A promise's value is shown as scittle.nrepl.js shows it: #<Promise value>."
  [sid v]
  (update (success sid v) :value (fn [s] (str "#<Promise " s ">"))))

(defn- failure [sid e ns-name file line col]
  (remember! sid :e (constantly (unwrap e)))
  {:err (error-text e ns-name file line col)
   :ex (str "class " (kind (unwrap e)))
   :root-ex (str "class " (kind (last (causes (unwrap e)))))})

(defn run
  "Evaluates one top-level form (code) for session sid in namespace ns-name, or
  in fallback (when not nil) should the page not know ns-name: a session's own
  namespace is gone after the page reloads. A form that returns a promise is
  answered when the promise settles, as scittle.nrepl.js does with one."
  [sid ns-name code file line col fallback]
  (let [ns-name (if (and fallback (not (find-ns (symbol ns-name)))) fallback ns-name)
        target (symbol ns-name)]
    (if-not (find-ns target)
      {:no-ns true :ns ns-name}
      (let [buf (atom [])
            echoing (atom false)
            capture (fn [s]
                      (swap! buf conj s)
                      (when-not (= "\n" s)
                        (reset! echoing true)
                        (try (console-print-fn s) (finally (reset! echoing false)))))
            console-log (.-log js/console)
            pending @idle-out
            result (atom nil)]
        (reset! idle-out "")
        (reset! -ns-out nil)
        (set-stars! (get @sessions sid))
        (in-ns target)
        ;; console.log during the evaluation (only) is also the editor's.
        (set! (.-log js/console)
              (fn [& args]
                (when-not @echoing
                  (swap! buf conj (str (apply str (interpose " " args)) "\n")))
                (.apply console-log js/console (to-array args))))
        (binding [*print-fn* capture
                  *print-err-fn* capture
                  *print-newline* true]
          (try
            (let [v (load-string (str "(let [v (do " code "\n)] (reset! sente.repl/-ns-out (str *ns*)) v)"))]
              (reset! result (if (instance? js/Promise v) v (success sid v))))
            (catch :default e
              (reset! result (failure sid e ns-name file line col)))
            (finally
              (set! (.-log js/console) console-log))))
        (let [final-ns (or @-ns-out ns-name)
              base {:ns final-ns :out (apply str pending @buf)}
              r @result]
          (reset! -ns-out nil)
          (in-ns (symbol final-ns))
          (if (instance? js/Promise r)
            (.then r
                   (fn [v] (merge base (settled sid v)))
                   (fn [e] (merge base (failure sid e ns-name file line col))))
            (merge base r)))))))

(defn forget
  "Drops a closed session's *1 *2 *3 *e."
  [sid]
  (swap! sessions dissoc sid)
  nil)

(defn- value-of [v]
  (if (var? v) (try @v (catch :default _ nil)) v))

(defn- type-of [m x]
  (cond (get m :macro) "macro"
        (fn? x) "function"
        :else "var"))

(defn- var-info [ns-name sym-name]
  (let [the-ns (or (find-ns (symbol ns-name)) (find-ns 'user))
        sym (symbol sym-name)
        v (try (ns-resolve the-ns sym) (catch :default _ nil))
        full (cond
               (nil? v) nil
               (var? v) (str v)
               ;; Scittle's core functions resolve to bare values, without vars.
               (contains? (ns-publics 'clojure.core) sym) (str "#'clojure.core/" sym-name))]
    (when (and full (.startsWith full "#'"))
      (let [m (meta v)
            full (subs full 2)
            i (.indexOf full "/")
            vns (if (pos? i) (subs full 0 i) (str (get m :ns)))
            vname (if (pos? i) (subs full (inc i)) (str (get m :name)))
            arglists (get m :arglists)]
        (cond-> {:ns vns :name vname :type (type-of m (value-of v))}
          (get m :doc) (assoc :doc (get m :doc))
          arglists (assoc :arglists-str (str (apply list arglists))
                          :eldoc (mapv (fn [a] (mapv str a)) arglists))
          (get m :file) (assoc :file (str (get m :file)))
          (get m :line) (assoc :line (get m :line))
          (get m :column) (assoc :column (get m :column))
          (get m :macro) (assoc :macro "true"))))))

(defn info
  "What an editor shows for sym-name as seen from ns-name: nil when unknown."
  [ns-name sym-name]
  (var-info ns-name sym-name))

(defn- candidate [ns-str sym v]
  {:candidate (str sym) :ns ns-str
   :type (type-of (when (var? v) (meta v)) (value-of v))})

(defn complete
  "Completion candidates for prefix in ns-name, prefix matches only, sorted."
  [ns-name prefix]
  (let [the-ns (or (find-ns (symbol ns-name)) (find-ns 'user))
        slash (.indexOf prefix "/")
        match? (fn [s] (.startsWith (str s) prefix))]
    (->> (if (pos? slash)
           (let [q (subs prefix 0 slash)
                 target (or (get (ns-aliases the-ns) (symbol q)) (find-ns (symbol q)))]
             (when target
               (for [e (ns-publics target)
                     :let [s (str q "/" (key e))]
                     :when (match? s)]
                 (assoc (candidate (str target) s (val e)) :candidate s))))
           (concat
            (for [e (ns-publics 'clojure.core) :when (match? (key e))]
              (candidate "clojure.core" (key e) (val e)))
            (for [e (ns-interns the-ns) :when (match? (key e))]
              (candidate (str the-ns) (key e) (val e)))
            (for [e (ns-refers the-ns) :when (and (match? (key e)) (var? (val e)))]
              (candidate (str (get (meta (val e)) :ns)) (key e) (val e)))
            (for [e (ns-aliases the-ns) :when (match? (key e))]
              {:candidate (str (key e)) :type "namespace"})
            (for [n (all-ns) :when (match? (str n))]
              {:candidate (str n) :type "namespace"})))
         (reduce (fn [acc c] (if (contains? (get acc 1) (get c :candidate))
                               acc
                               [(conj (get acc 0) c) (conj (get acc 1) (get c :candidate))]))
                 [[] #{}])
         first
         (sort-by :candidate)
         vec)))

"sente.repl/1"
